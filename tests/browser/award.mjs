// award.mjs - the whole award in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core), run by
// tests/e2e/award_browser_test.sh, which starts every daemon and passes:
//   CON      district console (http://127.0.0.1:PORT)
//   FIN      finance console of tipline-payouts
//   INTAKE   intake (the reporter's /status pages)
//   LEAD     the lead (= case id) in district 120118, posted through intake
//   RECEIPT  the reporter's 16-digit receipt
//   PW       password of responder resp.li; FPW: of every finance user
//   PAYEE    JSON {name,id_number,bank,account,phone}: what the reporter types
//   SHOTS    folder for screenshots; DL: where the batch file is saved
// Steps: the responder verifies the case (claim, two findings, verdict
// "running"); the proposer proposes the computed award (102,500 yuan, above
// the 100,000-yuan threshold); a district approver and a city approver
// each approve with their password (the signature); the reporter, in a
// context of their own, finds the award on /status with the receipt and
// claims it; once the vault has found the claim eligible the payer
// exports a batch, downloads the sealed file and confirms payment; the
// reporter's page then says paid.  Any JavaScript dialog, page error or
// console error fails the test.
import { chromium } from 'playwright-core';
import fs from 'node:fs';

const env = process.env;
for (const k of ['CON', 'FIN', 'INTAKE', 'LEAD', 'RECEIPT', 'PW', 'FPW', 'PAYEE', 'SHOTS', 'DL']) {
	if (!env[k]) {
		console.error(`${k} must be set`);
		process.exit(2);
	}
}
const PAYEE = JSON.parse(env.PAYEE);
const problems = [];
let shot = 0;

function watch(page, who) {
	page.on('dialog', async (d) => {
		problems.push(`${who}: a JavaScript dialog opened: ${d.message()}`);
		await d.dismiss();
	});
	page.on('pageerror', (e) => problems.push(`${who}: page error: ${e.message}`));
	page.on('console', (m) => {
		if (m.type() === 'error') problems.push(`${who}: console error: ${m.text()}`);
	});
}

function must(cond, what) {
	if (!cond) throw new Error(what);
}

async function snap(page, name) {
	shot++;
	await page.screenshot({ path: `${env.SHOTS}/${String(shot).padStart(2, '0')}-${name}.png`, fullPage: true });
}

// Staff pages must never carry the reporter's identity or payee details:
// checked on every finance and district page the flow visits.
async function noIdentity(page, who) {
	const html = await page.content();
	for (const k of ['name', 'id_number', 'account', 'phone'])
		must(!html.includes(PAYEE[k]), `${who}: the page at ${page.url()} shows the reporter's ${k}`);
}

async function noError(page, what) {
	const n = await page.locator('p.error').count();
	must(n === 0, `${what}: error shown: ${n ? await page.locator('p.error').first().innerText() : ''}`);
}

async function login(browser, base, name, pw, who) {
	const ctx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 }, acceptDownloads: true });
	const page = await ctx.newPage();
	watch(page, who);
	await page.goto(`${base}/`);
	must(page.url().endsWith('/login'), `${who}: not sent to /login but ${page.url()}`);
	await page.fill('input[name=name]', name);
	await page.fill('input[name=password]', pw);
	await Promise.all([page.waitForNavigation(), page.click('button:has-text("登录")')]);
	must(new URL(page.url()).pathname === '/', `${who}: login did not land on / but ${page.url()}`);
	await noError(page, `${who} login`);
	return page;
}

async function submitForm(page, action, button) {
	const form = page.locator(`form[action$="${action}"]`);
	const btn = button ? form.locator(`button:has-text("${button}")`) : form.locator('button[type=submit]');
	await Promise.all([page.waitForNavigation(), btn.click()]);
	await noError(page, action);
	if (!page.url().startsWith(env.INTAKE)) await noIdentity(page, action);
}

// Reloads the reporter's status page until its label says want.
async function statusUntil(page, want, secs) {
	for (let i = 0; i < secs * 2; i++) {
		await page.goto(`${env.INTAKE}/status?receipt=${env.RECEIPT}`);
		const label = await page.locator('p.label').innerText();
		if (label.includes(want)) return page.locator('div.card').first().innerText();
		await page.waitForTimeout(500);
	}
	throw new Error(`reporter: status never became ${want}: ${await page.locator('div.card').first().innerText()}`);
}

const browser = await chromium.launch({
	executablePath: '/usr/bin/chromium',
	headless: true,
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
	       '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let rc = 0;
try {
	// 1. The district verifies the case.
	const resp = await login(browser, env.CON, 'resp.li', env.PW, 'responder');
	await resp.goto(`${env.CON}/case/${env.LEAD}`);
	await submitForm(resp, '/claim');
	for (const [agency, check] of [['samr', 'site_visit'], ['grid', 'power_use']]) {
		await resp.selectOption('form[action$="/finding"] select[name=agency]', agency);
		await resp.selectOption('form[action$="/finding"] select[name=check]', check);
		await resp.selectOption('form[action$="/finding"] select[name=result]', 'confirmed');
		await resp.fill('form[action$="/finding"] input[name=who]', '王五');
		await submitForm(resp, '/finding');
	}
	await resp.check('form[action$="/verdict"] input[value=substantiated]');
	await resp.fill('form[action$="/verdict"] input[name=furnaces]', '2');
	await resp.fill('form[action$="/verdict"] input[name=capacity_tpy]', '30000');
	await resp.selectOption('form[action$="/verdict"] select[name=production]', 'running');
	await resp.fill('form[action$="/verdict"] input[name=fines_yuan]', '50000');
	await submitForm(resp, '/verdict');
	await snap(resp, 'district-verdict');

	// The reporter sees "verified" once payouts has the verdict.
	const rctx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 420, height: 900 } });
	const rep = await rctx.newPage();
	watch(rep, 'reporter');
	await rep.goto(`${env.INTAKE}/status`);
	await rep.fill('input[name=receipt]', env.RECEIPT.replace(/(\d{4})(?=\d)/g, '$1 '));
	await Promise.all([rep.waitForNavigation(), rep.click('button:has-text("查询")')]);
	await statusUntil(rep, '核实', 30);
	await snap(rep, 'reporter-verified');

	// 2. The proposer proposes the computed award.
	const prop = await login(browser, env.FIN, 'fin.prop', env.FPW, 'proposer');
	for (let i = 0; i < 60 && !(await prop.content()).includes(`/case/${env.LEAD}`); i++) {
		await prop.waitForTimeout(500);
		await prop.reload();
	}
	await Promise.all([prop.waitForNavigation(), prop.click(`a[href="/case/${env.LEAD}"]`)]);
	const caseText = await prop.locator('main').innerText();
	must(caseText.includes('102,500.00') || caseText.includes('102500.00'), `proposer: computed award not shown: ${caseText}`);
	await noIdentity(prop, 'proposer case page');
	await snap(prop, 'case');
	await submitForm(prop, '/propose');
	const awardUrl = prop.url();
	must(/\/award\/[0-9a-f]{32}$/.test(awardUrl), `proposer: not on the award page: ${awardUrl}`);
	must((await prop.locator('form[action$="/decide"]').count()) === 0, 'proposer: offered to decide own award');
	await snap(prop, 'award-proposed');

	// 3. Two approvers sign: one of the district, one of the city.
	for (const [who, name] of [['district approver', 'appr.d'], ['city approver', 'appr.city']]) {
		const ap = await login(browser, env.FIN, name, env.FPW, who);
		await ap.goto(awardUrl);
		await ap.fill('form[action$="/decide"] input[name=password]', env.FPW);
		await submitForm(ap, '/decide', '批准并签名');
		await snap(ap, `${name}-approved`);
		await ap.context().close();
	}

	// 4. The reporter claims with the receipt.
	const approved = await statusUntil(rep, '奖励已批准', 30);
	must(approved.includes('102,500.00'), `reporter: amount not shown: ${approved}`);
	await snap(rep, 'reporter-award');
	await Promise.all([rep.waitForNavigation(), rep.click('a:has-text("填写领奖信息")')]);
	for (const k of ['name', 'id_number', 'bank', 'account', 'phone']) await rep.fill(`input[name=${k}]`, PAYEE[k]);
	await snap(rep, 'reporter-claim-form');
	await Promise.all([rep.waitForNavigation(), rep.click('button:has-text("提交领奖申请")')]);
	const done = await rep.locator('main').innerText();
	must(done.includes('已提交'), `reporter: claim not accepted: ${done}`);
	for (const k of ['name', 'id_number', 'account', 'phone'])
		must(!(await rep.content()).includes(PAYEE[k]), `reporter: the page echoes ${k}`);
	await statusUntil(rep, '领奖申请已收到', 30);
	await snap(rep, 'reporter-claim-received');

	// 5. The payer exports, downloads the sealed file, confirms.
	const pay = await login(browser, env.FIN, 'fin.pay', env.FPW, 'payer');
	await pay.goto(`${env.FIN}/batches`);
	await pay.selectOption('form[action$="/batches/export"] select[name=district]', 'all');
	await submitForm(pay, '/batches/export');
	must(/\/batch\/[0-9a-f]{32}$/.test(pay.url()), `payer: not on the batch page: ${pay.url()}`);
	await snap(pay, 'batch-exported');
	await noIdentity(pay, 'payer batch page');
	await pay.goto(`${env.FIN}/ledger`);
	await noIdentity(pay, 'payer ledger page');
	await pay.goBack();
	const [dl] = await Promise.all([pay.waitForEvent('download'), pay.click('a:has-text("下载加密付款文件")')]);
	await dl.saveAs(env.DL);
	const bytes = fs.readFileSync(env.DL);
	must(bytes.length > 0, 'payer: empty batch file');
	for (const k of ['name', 'id_number', 'account', 'phone'])
		must(!bytes.includes(Buffer.from(PAYEE[k])), `payer: the downloaded file holds ${k} in clear`);
	await submitForm(pay, '/confirm');
	await snap(pay, 'batch-confirmed');

	// 6. The reporter sees it paid.
	const paid = await statusUntil(rep, '已发放', 30);
	must(paid.includes('102,500.00'), `reporter: paid amount not shown: ${paid}`);
	await snap(rep, 'reporter-paid');
} catch (e) {
	console.error(`FAIL: ${e.message}`);
	rc = 1;
} finally {
	await browser.close();
}
for (const p of problems) {
	console.error(`FAIL: ${p}`);
	rc = 1;
}
if (!rc) console.log('award flow ok');
process.exit(rc);
