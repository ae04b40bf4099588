#!/usr/bin/env python3
"""Generates tests/data/redact/corpus.txt, the labelled redaction corpus.

Each tip is a block of lines ending with a line that is exactly "%%".
Inline markup:  ⟦...⟧  must be redacted (every letter/digit/CJK char in it
must fall inside a redaction span);  ⟪...⟫  must survive (no byte of it may
be redacted).  Everything else is unlabelled context.  Lines before the
first tip starting with '#' are comments.

The generator is deterministic (fixed seed); re-run it and commit both:
    python3 tests/data/redact/gen_corpus.py > tests/data/redact/corpus.txt
Hand-written hard cases live in hand.txt (same format) and are appended.
"""
import random
import os

R = random.Random(20180612)
ZW = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
FW = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz@.+-#_"}
SPOKEN = {"0": ["零", "洞", "〇"], "1": ["幺", "一"], "2": ["二", "两"], "3": ["三"], "4": ["四"],
          "5": ["五"], "6": ["六"], "7": ["七", "拐"], "8": ["八"], "9": ["九", "勾"]}

def go(s):
    return "⟦" + s + "⟧"

def stay(s):
    return "⟪" + s + "⟫"

def fw(s, p=1.0):
    return "".join(FW.get(c, c) if R.random() < p else c for c in s)

def spoken(s):
    return "".join(R.choice(SPOKEN[c]) if c.isdigit() else c for c in s)

def digits(n, first="123456789"):
    return R.choice(first) + "".join(R.choice("0123456789") for _ in range(n - 1))

# ---------------------------------------------------------------- identifiers
TJ_AREAS = ["120101", "120102", "120103", "120104", "120105", "120106", "120110", "120111",
            "120112", "120113", "120114", "120115", "120116", "120117", "120118", "120119",
            "120221", "120223", "120225", "130925", "130984", "371402", "410527", "130203"]

def id18(valid=True):
    area = R.choice(TJ_AREAS)
    y = R.randint(1955, 2002); m = R.randint(1, 12); d = R.randint(1, 28)
    body = "%s%04d%02d%02d%03d" % (area, y, m, d, R.randint(1, 999))
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    c = "10X98765432"[sum(int(a) * b for a, b in zip(body, w)) % 11]
    if not valid:
        c = R.choice([x for x in "0123456789" if x != c])
    return body + c

def id15():
    area = R.choice(TJ_AREAS)
    return "%s%02d%02d%02d%03d" % (area, R.randint(40, 84), R.randint(1, 12), R.randint(1, 28), R.randint(1, 999))

def mobile():
    return R.choice(["13", "15", "18", "17", "19", "16", "14"]) + str(R.randint(0, 9)) + digits(8, "0123456789")

def luhn_fix(body):
    s = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        s += d
    return body + str((10 - s % 10) % 10)

def bankcard():
    n = R.choice([16, 16, 19, 19, 18, 17])
    body = R.choice(["622202", "621700", "622848", "623052", "621483", "436742", "622588", "625965"]) + digits(n - 7, "0123456789")
    return luhn_fix(body) if R.random() < 0.8 else body + str(R.randint(0, 9))

def group(s, sizes, sep=" "):
    out, i = [], 0
    for k in sizes:
        out.append(s[i:i + k]); i += k
    if i < len(s):
        out.append(s[i:])
    return sep.join(x for x in out if x)

def insert_zw(s):
    i = R.randint(1, len(s) - 1)
    return s[:i] + R.choice(ZW) + s[i:]

def mobile_form():
    m = mobile()
    k = R.randint(0, 13)
    forms = [m, group(m, [3, 4, 4]), group(m, [3, 4, 4], "-"), "+86 " + m, "+86-" + group(m, [3, 4, 4], "-"),
             "0086" + m, "86-" + m, fw(m), fw(group(m, [3, 4, 4], "-")), insert_zw(m), group(m, [3, 3, 5]),
             " ".join(m), group(m, [3, 4, 4], "."), "+86 " + fw(m, 0.5)]
    return forms[k]

def landline_form():
    k = R.randint(0, 9)
    local = R.choice("2568") + digits(7, "0123456789")
    forms = ["022-" + local, "(022)" + local, "（022）" + local, "022 " + group(local, [4, 4]),
             "+86 22 " + local, "86-22-" + local, "022-" + local + "-" + str(R.randint(100, 8999)),
             "010-" + R.choice("56") + digits(7, "0123456789"), "0317-" + R.choice("25") + digits(6, "0123456789"),
             fw("022-" + local)]
    return forms[k]

def bank_form():
    b = bankcard()
    k = R.randint(0, 4)
    return [b, group(b, [4, 4, 4, 4, 4]), group(b, [4, 4, 4, 4, 4], "-"), fw(b), insert_zw(group(b, [4] * 5))][k]

def id_form():
    k = R.randint(0, 6)
    i = id18(R.random() < 0.8)
    if k == 0:
        return i
    if k == 1:
        return group(i, [6, 8, 4])
    if k == 2:
        return fw(i)
    if k == 3:
        return group(i, [6, 4, 4, 4])
    if k == 4:
        return insert_zw(i)
    if k == 5:
        j = id18(True)
        while not j.endswith("X"):
            j = id18(True)
        return j[:-1] + R.choice("Xx")
    return i

PINYIN = ["zhangwei", "wangfang", "liqiang", "liuyang", "chenjie", "yangming", "huanglei", "zhaoyan",
          "wuhao", "zhoujun", "xugang", "sunli", "majun", "zhuhong", "hubin", "guojing", "tianjin_lao",
          "gangtie_ren", "xiaowang", "dali"]

def email_form():
    user = R.choice(PINYIN) + (str(R.randint(1, 9999)) if R.random() < 0.6 else "")
    dom = R.choice(["163.com", "126.com", "qq.com", "sina.com", "sohu.com", "139.com", "foxmail.com", "yeah.net", "outlook.com", "gmail.com"])
    k = R.randint(0, 8)
    if k == 1:
        user = digits(R.randint(6, 10))
        dom = "qq.com"
    if k == 2:
        return fw(user + "@" + dom)
    if k == 3:
        return user + "#" + dom
    if k == 4:
        return user + "艾特" + dom.replace(".", "点")
    if k == 5:
        return user + " at " + dom.replace(".", " dot ")
    if k == 6:
        return user + "＠" + dom.replace(".", "．")
    if k == 7:
        return user + " @ " + dom
    return user + "@" + dom

def wechat_id():
    k = R.randint(0, 3)
    if k == 0:
        return "wxid_" + "".join(R.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(R.randint(10, 14)))
    if k == 1:
        return R.choice(PINYIN).replace("_", "") + str(R.randint(10, 9999))
    if k == 2:
        return R.choice(["Tj", "tj", "JH", "lao", "Gang"]) + R.choice(["_", "-", ""]) + R.choice(PINYIN)[:5] + str(R.randint(60, 99))
    return R.choice("abcdefghkmnpqrstwxyz") + digits(R.randint(6, 9), "0123456789")

SURN = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐韩冯邓曹彭曾田董潘蒋蔡杜魏吕丁沈姜崔谭陆范金石贾夏付方邹孟熊秦江薛闫段雷侯史郝邵孔康齐乔庞"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉萍红建国志红海波宁春梅兰凤国庆德福晓东立新永胜宝山金龙"

def name():
    s = R.choice(SURN)
    if R.random() < 0.05:
        s = R.choice(["欧阳", "司马", "上官", "诸葛"])
    return s + "".join(R.choice(GIVEN) for _ in range(R.choice([1, 2, 2])))

def plate(prov=None):
    prov = prov or R.choice("津冀鲁晋蒙辽豫京")
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    k = R.randint(0, 4)
    serial = digits(5, "0123456789")
    if k == 1:
        serial = R.choice(letters) + digits(4, "0123456789")
    if k == 2:
        serial = R.choice("DF") + R.choice(letters + "0123456789") + digits(4, "0123456789")
    sep = R.choice(["", "", "·", " ", "-"])
    p = prov + R.choice(letters[:12]) + sep + serial
    if k == 3:
        p = prov + R.choice(letters[:12]) + sep + digits(4, "0123456789") + "挂"
    return p

def uscc():
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    area = R.choice(["120223", "120118", "120116", "120111", "120222", "130925", "120113"])
    return R.choice(["91", "92", "93"]) + area + "MA0" + "".join(R.choice(chars) for _ in range(6)) + R.choice(chars)

# ------------------------------------------------------------- target content
PLACES = ["静海区大邱庄镇", "静海区唐官屯镇", "静海区陈官屯镇", "静海区子牙镇", "西青区张家窝镇", "西青区杨柳青镇",
          "北辰区双口镇", "北辰区西堤头镇", "武清区王庆坨镇", "武清区大碱厂镇", "宝坻区大口屯镇", "宁河区潘庄镇",
          "滨海新区大港街道", "滨海新区汉沽茶淀街道", "东丽区军粮城", "津南区葛沽镇", "津南区小站镇", "蓟州区邦均镇",
          "静海区团泊镇", "武清区河西务镇", "滨海新区中塘镇", "北辰区青光镇", "东丽区金桥街道", "宝坻区霍各庄镇"]
VILLAGES = ["东村", "西庄子村", "王庄村", "后营村", "李家台村", "大张庄村", "新立村", "小刘庄"]
COMPANIES = ["天津市鑫达钢铁有限公司", "天津宏利金属制品厂", "津海铸造有限公司", "天津市恒通废旧物资回收站",
             "华兴轧钢厂", "天津市宝丰特钢有限公司", "联诚金属材料有限公司", "天津市津北钢铁贸易有限公司",
             "天津永安铸件厂", "鼎盛再生资源利用有限公司", "天津市通达螺纹钢制品厂", "昌盛铸造厂"]
EQUIP = ["2×20吨中频炉", "3台中频炉", "一台10吨工频炉", "两台5吨中频炉", "5000千伏安变压器", "2台3150kVA变压器",
         "12500kVA变压器", "一座1.5吨电炉", "4台中频感应炉", "两条轧钢线", "30吨中频炉", "6300千伏安变压器"]
PRODUCTS = ["螺纹钢", "钢坯", "地条钢", "方坯", "圆钢", "线材", "劣质螺纹钢", "钢锭"]

def amount(kind=None):
    k = R.randint(0, 6) if kind is None else R.choice(kind)
    return [str(R.randint(2, 900)) + "万元", "%d,%03d,%03d元" % (R.randint(1, 9), R.randint(0, 999), R.randint(0, 999)),
            str(R.randint(1, 50)) + "." + str(R.randint(1, 9)) + "万吨", str(R.randint(100, 5000)) + "吨",
            "每吨" + str(R.randint(1800, 3900)) + "元", "年产" + str(R.randint(2, 30)) + "万吨", str(R.randint(10000, 90000)) + "吨"][k]

def date():
    y = R.choice([2017, 2018, 2019, 2023, 2024])
    m = R.randint(1, 12); d = R.randint(1, 28)
    k = R.randint(0, 4)
    return ["%d-%02d-%02d" % (y, m, d), "%d年%d月%d日" % (y, m, d), "%d.%d.%d" % (y, m, d), "%d/%02d/%02d" % (y, m, d), "%d%02d%02d" % (y, m, d)][k]

def hotline():
    return R.choice(["12345", "110", "12388", "12369", "95598", "12315"])

def meter():
    k = R.randint(0, 6)
    kw = ["电表号", "电表户号", "用电户号", "户号", "订单号", "磅单号", "合同编号"][k]
    if k == 6:
        return kw + "：" + stay("HT-" + str(R.randint(2017, 2024)) + "-" + digits(4, "0123456789"))
    n = R.choice([10, 12, 13, 16, 18, 11])
    num = digits(n)
    return kw + R.choice(["", "：", " ", "是"]) + stay(num)

# --------------------------------------------------------------- contact bits
def contact_phone():
    kw = R.choice(["我的电话", "电话", "手机", "联系电话", "手机号", "我手机号码是", "联系方式：", "有事打我", "回电请拨"])
    return kw + R.choice(["", "：", " ", "是"]) + go(mobile_form())

def contact_landline():
    kw = R.choice(["家里座机", "座机", "固话", "我家电话", "单位电话"])
    return kw + R.choice(["：", " ", "是"]) + go(landline_form())

def contact_bank():
    kw = R.choice(["奖金请打到我的银行卡", "本人银行卡号", "收款账号", "卡号", "工商银行卡号", "开户行农业银行，账号"])
    return kw + R.choice(["：", " ", ""]) + go(bank_form())

def contact_id():
    kw = R.choice(["身份证号", "身份证", "我的身份证号码是", "证件号", "公民身份号码"])
    if R.random() < 0.15:
        return kw + "：" + go(id15())
    return kw + R.choice(["：", " ", ""]) + go(id_form())

def contact_email():
    kw = R.choice(["邮箱", "我的邮箱是", "电子邮件", "email:", "回复请发到", "QQ邮箱"])
    return kw + R.choice(["：", " ", ""]) + go(email_form())

def contact_wechat():
    kw = R.choice(["微信", "微信号", "vx", "VX:", "加我微信", "V信", "wx", "绿泡泡"])
    w = wechat_id()
    return kw + R.choice(["：", " ", "", "是"]) + go(w)

def contact_qq():
    kw = R.choice(["QQ", "qq号", "扣扣", "企鹅号", "QQ:"])
    return kw + R.choice(["：", " ", ""]) + go(digits(R.randint(6, 10)))

def self_name():
    n = name()
    k = R.randint(0, 7)
    return [ "我叫" + go(n) + "，", "本人" + go(n) + "，", "我是" + go(n) + "，", "姓名：" + go(n) + "\n",
             "举报人：" + go(n) + "\n", "联系人：" + go(n) + "，", "本人姓名" + go(n) + "，", "我的名字叫" + go(n) + "，"][k]

def own_plate():
    kw = R.choice(["我的车牌号是", "本人车辆", "我的车是", "我开的车", "我家车牌", "本人车牌"])
    return kw + R.choice(["", "：", " "]) + go(plate("津")) + R.choice(["，", "。"])

def personal_url():
    tok = "".join(R.choice("ABCDEFGHabcdefgh0123456789") for _ in range(24))
    k = R.randint(0, 2)
    return ["https://h5.example-survey.cn/form?openid=o" + tok[:27],
            "http://track.example.com/u/" + tok + "/share",
            "https://m.example.cn/report?uid=" + digits(9) + "&token=" + tok][k]

# ------------------------------------------------------------- tip builders
def target_sentence():
    place = R.choice(PLACES)
    vill = R.choice(VILLAGES)
    comp = R.choice(COMPANIES)
    eq = R.choice(EQUIP)
    prod = R.choice(PRODUCTS)
    k = R.randint(0, 6)
    return [
        "%s%s的%s用%s偷偷生产%s，晚上开工白天停。" % (place, vill, comp, stay(eq), prod),
        "在%s有个%s，私设%s，用废钢炼%s，冒黑烟。" % (place, comp, stay(eq), prod),
        "%s位于%s，现有%s，日产%s约%s。" % (comp, place, stay(eq), prod, stay(amount([3, 6]))),
        "举报%s%s非法生产地条钢，厂里有%s，夜里拉%s出去卖。" % (place, comp, stay(eq), prod),
        "%s附近一个没有牌子的厂，装了%s，用%s冒充合格%s，价格%s。" % (place, stay(eq), "废钢", prod, stay(amount())),
        "%s的%s(统一社会信用代码%s)明面上做钢材贸易，实际在后院用%s炼钢。" % (place, comp, stay(uscc()), stay(eq)),
        "%s%s那边，%s私建厂房，%s开始生产%s。" % (place, vill, comp, stay(date()), prod),
    ][k]

def evidence_sentence():
    k = R.randint(0, 9)
    if k == 0:
        return "每天夜里有大货车进出，车牌%s、%s，拉的都是钢坯。" % (stay(plate()), stay(plate()))
    if k == 1:
        return "他们的%s，%s。" % (meter(), R.choice(["用电量很大", "一个月电费几十万", "电表是新装的"]))
    if k == 2:
        return "%s那天我看见%s辆车往外运%s，货车车牌%s。" % (stay(date()), stay(str(R.randint(3, 12))), R.choice(PRODUCTS), stay(plate()))
    if k == 3:
        return "老板姓%s，外号%s，听说和当地有关系。" % (stay(R.choice(SURN)), stay(R.choice(["大刘", "二虎", "老三", "铁头"])))
    if k == 4:
        return "之前打过%s反映，也打过%s，没人管。" % (stay(hotline()), stay(hotline()))
    if k == 5:
        return "营业执照注册号%s，厂子早就该关了。" % stay("120" + R.choice(["223", "118", "222"]) + "000" + digits(6, "0123456789"))
    if k == 6:
        return "产能大概%s，销售额%s。" % (stay(amount()), stay(amount()))
    if k == 7:
        return "%s用电%s千瓦时。" % (stay(date()), stay(str(R.randint(20000, 900000))))
    if k == 8:
        return "%s，有照片和视频。" % R.choice(["厂门口停着拉废钢的车" + stay(plate()), "变压器型号" + stay("S11-M-" + str(R.choice([3150, 5000, 6300])) + "/10")])
    return "市里的举报电话%s我也知道。" % stay(R.choice(["022-" + R.choice("2368") + digits(7, "0123456789"), "12345", "12388"]))

def contact_bits(n):
    fns = [contact_phone, contact_phone, contact_landline, contact_bank, contact_id, contact_email,
           contact_wechat, contact_qq, own_plate]
    return [R.choice(fns)() for _ in range(n)]

def hotline_tip():
    lines = ["坐席：您好，天津市取缔地条钢举报热线，请讲。"]
    intro = R.choice(["来电人：喂，你好，", "来电人：嗯，我要举报，", "来电人：你好你好，"])
    if R.random() < 0.6:
        n = name()
        intro += R.choice(["我叫" + go(n) + "，", "我是" + go(n) + "，", "本人" + go(n) + "，"])
    lines.append(intro + target_sentence())
    lines.append("坐席：请问具体位置在哪里？")
    lines.append("来电人：" + evidence_sentence())
    if R.random() < 0.7:
        lines.append("坐席：请留一个联系电话方便回访。")
        m = mobile()
        kind = R.randint(0, 3)
        if kind == 0:
            num = spoken(m)
        elif kind == 1:
            num = spoken(group(m, [3, 4, 4]))
        elif kind == 2:
            num = spoken(m[:3]) + m[3:]
        else:
            num = group(m, [3, 4, 4])
        lines.append("来电人：我的电话是" + go(num) + "。")
    if R.random() < 0.3:
        lines.append("来电人：" + contact_id() + "，奖金的事以后再说。")
    lines.append("坐席：好的，您的举报已记录，请记住举报回执号。")
    return "\n".join(lines)

def wechat_tip():
    parts = []
    parts.append(R.choice(["在吗？", "你好！", "[微笑]举报个事", "我要举报地条钢！！", "请问这里可以举报吗"]))
    parts.append(target_sentence())
    parts.append(evidence_sentence())
    parts.extend(contact_bits(R.randint(1, 3)))
    if R.random() < 0.4:
        parts.append(evidence_sentence())
    if R.random() < 0.2:
        parts.append("问卷链接" + go(personal_url()))
    if R.random() < 0.3:
        parts.append(R.choice(["官网", "他们的网站"]) + stay(R.choice(["http://www.tj.gov.cn", "https://gxj.tj.gov.cn/zwgk/index.html", "www.xindagangtie.com"])) + "上都有")
    sep = R.choice(["，", " ", "\n"])
    if sep == "，":
        parts = [x.rstrip("。") for x in parts]
    s = sep.join(parts)
    if R.random() < 0.3:
        s = fw(s, 0.3)
    return s

def email_tip():
    lines = ["主题：关于" + R.choice(PLACES) + "非法生产地条钢的举报", "", "尊敬的市领导小组办公室："]
    lines.append(R.choice(["", "    "]) + self_name().rstrip("，\n") + "，" + R.choice(["系附近村民", "在附近工作", "以前在厂里上班", "是一名退休职工"]) + "。现实名举报如下：")
    lines.append(target_sentence())
    lines.append(evidence_sentence())
    lines.append(evidence_sentence())
    lines.append("以上情况属实，请有关部门尽快查处。")
    lines.append("")
    lines.append("举报人：" + go(name()))
    for b in contact_bits(R.randint(1, 3)):
        lines.append(b)
    lines.append(stay(date()))
    return "\n".join(lines)

def anon_tip():
    parts = [R.choice(["匿名举报：", "不留名了，", "我不方便透露身份，", ""]), target_sentence(), evidence_sentence(), evidence_sentence()]
    if R.random() < 0.5:
        parts.append("我是" + R.choice(["附近的村民", "大邱庄的工人", "王庄村的", "厂里的司机", "一名老党员"]) + "，看不下去了。")
    return "".join(parts)

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    print("# Labelled redaction corpus for tests/unit/common/redact_test.c.")
    print("# Generated by gen_corpus.py (seed 20180612) plus hand.txt; see that script for the format.")
    print("# ⟦...⟧ must go, ⟪...⟫ must stay; a line '%%' ends a tip.")
    builders = [hotline_tip] * 3 + [wechat_tip] * 4 + [email_tip] * 2 + [anon_tip]
    for _ in range(300):
        print(R.choice(builders)())
        print("%%")
    with open(os.path.join(here, "hand.txt"), encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#"):
                print(line, end="")

if __name__ == "__main__":
    main()
