// console.mjs - drives the district console in headless Chromium
// (Debian's /usr/bin/chromium through playwright-core).  Run by
// tests/e2e/console_browser_test.sh, which starts the node and passes:
//   CON          console base URL (http://127.0.0.1:PORT)
//   LEAD         a lead id in district 120118, posted through intake
//   PW           password of resp.li and resp.zhao
//   SHOTS        folder for screenshots
// Responder A logs in, claims the lead, records two findings and a
// verdict; responder B, in a second browser context (its own cookies),
// sees the lead as taken and gets no claim button.  Any JavaScript dialog
// (an alert() from a tip), page error or CSP violation fails the test.
import { chromium } from 'playwright-core';
import fs from 'node:fs';

const { CON, LEAD, PW, SHOTS } = process.env;
if (!CON || !LEAD || !PW || !SHOTS) {
	console.error('CON, LEAD, PW and SHOTS must be set');
	process.exit(2);
}
const problems = [];

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

async function login(ctx, name, who) {
	const page = await ctx.newPage();
	watch(page, who);
	await page.goto(`${CON}/`);
	must(page.url().endsWith('/login'), `${who}: not sent to /login but ${page.url()}`);
	await page.fill('input[name=name]', name);
	await page.fill('input[name=password]', PW);
	await Promise.all([page.waitForNavigation(), page.click('button:has-text("登录")')]);
	must(new URL(page.url()).pathname === '/', `${who}: login did not land on the queue: ${page.url()}`);
	return page;
}

// Submits the form whose action ends with /<action> and waits for the page.
async function submit(page, action) {
	const form = page.locator(`form[action$="/${action}"]`);
	await Promise.all([page.waitForNavigation(), form.locator('button[type=submit]').click()]);
	const err = await page.locator('p.error').count();
	must(err === 0, `${action}: error shown: ${err ? await page.locator('p.error').innerText() : ''}`);
}

const browser = await chromium.launch({
	executablePath: '/usr/bin/chromium',
	headless: true,
	// playwright gives every launch a fresh temporary user-data-dir.
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
	       '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let rc = 0;
try {
	const a = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
	const b = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
	const pa = await login(a, 'resp.li', 'A');
	must((await pa.content()).includes(LEAD), 'A: the lead is not in the queue');
	await pa.screenshot({ path: `${SHOTS}/1-queue.png`, fullPage: true });
	await Promise.all([pa.waitForNavigation(), pa.click(`a[href="/case/${LEAD}"]`)]);
	await pa.screenshot({ path: `${SHOTS}/2-case-new.png`, fullPage: true });
	await submit(pa, 'claim');
	must((await pa.locator('dl.facts').innerText()).includes('resp.li'), 'A: holder not shown after claim');

	// B sees it taken.
	const pb = await login(b, 'resp.zhao', 'B');
	await pb.goto(`${CON}/case/${LEAD}`);
	const facts = await pb.locator('dl.facts').innerText();
	must(facts.includes('已认领') && facts.includes('resp.li'), `B: lead not shown as taken: ${facts}`);
	must((await pb.locator('form[action$="/claim"]').count()) === 0, 'B: a claim button is offered');
	await pb.screenshot({ path: `${SHOTS}/3-case-taken-by-other.png`, fullPage: true });

	// Two findings.
	await pa.selectOption('form[action$="/finding"] select[name=agency]', 'samr');
	await pa.selectOption('form[action$="/finding"] select[name=check]', 'site_visit');
	await pa.selectOption('form[action$="/finding"] select[name=result]', 'confirmed');
	await pa.fill('form[action$="/finding"] input[name=who]', '张三、李四');
	await pa.fill('form[action$="/finding"] textarea[name=details]', '现场发现两台中频炉，<script>alert(2)</script>');
	await submit(pa, 'finding');
	await pa.selectOption('form[action$="/finding"] select[name=agency]', 'grid');
	await pa.selectOption('form[action$="/finding"] select[name=check]', 'power_use');
	await pa.selectOption('form[action$="/finding"] select[name=result]', 'confirmed');
	await pa.fill('form[action$="/finding"] input[name=who]', '王五');
	await submit(pa, 'finding');
	must((await pa.locator('article.finding').count()) === 2, 'A: two findings not shown');
	await pa.screenshot({ path: `${SHOTS}/4-case-findings.png`, fullPage: true });

	// Verdict.
	await pa.check('form[action$="/verdict"] input[value=substantiated]');
	await pa.fill('form[action$="/verdict"] input[name=furnaces]', '2');
	await pa.fill('form[action$="/verdict"] input[name=capacity_tpy]', '30000');
	await pa.selectOption('form[action$="/verdict"] select[name=production]', 'running');
	await pa.fill('form[action$="/verdict"] input[name=fines_yuan]', '50000');
	await submit(pa, 'verdict');
	const done = await pa.locator('dl.facts').innerText();
	must(done.includes('已结案') && done.includes('查证属实'), `A: verdict not shown: ${done}`);
	await pa.screenshot({ path: `${SHOTS}/5-case-closed.png`, fullPage: true });
	fs.writeFileSync(`${SHOTS}/case.html`, await pa.content());
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
if (!rc) console.log('browser flow ok');
process.exit(rc);
