#!/usr/bin/env python3
"""Generates tests/data/route/cases.tsv, the labelled routing set.

Columns (TAB-separated, "-" for empty): expected code, explicit district
given by the channel, location field, tip text, coordinates "LAT,LON".
Deterministic; hand-written cases come from hand.tsv (same columns).
    python3 tests/data/route/gen_cases.py > tests/data/route/cases.tsv
"""
import os
import random

R = random.Random(2018)

# (code, names people use for places in that district: district forms, towns, parks)
PLACES = {
    "120101": ["和平区", "天津市和平区", "和平区小白楼", "五大道", "滨江道", "劝业场街道", "南营门街道"],
    "120102": ["河东区", "河东区大直沽", "中山门街道", "二号桥街道", "天津河东"],
    "120103": ["河西区", "河西区梅江", "陈塘庄街道", "天塔街道", "小海地", "天津市河西区柳林街道"],
    "120104": ["南开区", "天津南开", "南开区王顶堤", "华苑街道", "水上公园街道", "古文化街"],
    "120105": ["河北区", "天津市河北区", "王串场街道", "月牙河街道", "意式风情区"],
    "120106": ["红桥区", "红桥区丁字沽", "西沽街道", "三条石", "芥园街道", "天津西站附近"],
    "120110": ["东丽区", "东丽区军粮城", "张贵庄街道", "华明街道", "金桥街道", "无瑕街道", "东丽经济开发区"],
    "120111": ["西青区", "西青区张家窝镇", "杨柳青", "中北镇", "精武镇", "王稳庄镇", "华苑产业区", "西青开发区", "辛口镇"],
    "120112": ["津南区", "津南区咸水沽", "葛沽镇", "小站镇", "双港镇", "北闸口镇", "八里台镇", "海河教育园区"],
    "120113": ["北辰区", "北辰区双口镇", "西堤头", "青光镇", "宜兴埠", "大张庄镇", "北辰经济技术开发区", "天穆镇", "小淀镇"],
    "120114": ["武清区", "武清杨村", "王庆坨镇", "河西务", "崔黄口镇", "大碱厂镇", "汊沽港镇", "武清开发区", "梅厂镇", "下朱庄街道"],
    "120115": ["宝坻区", "宝坻区大口屯镇", "霍各庄镇", "林亭口", "八门城镇", "京津新城", "九园工业园", "大钟庄镇"],
    "120116": ["滨海新区", "塘沽", "汉沽", "大港", "泰达", "临港经济区", "中塘镇", "太平镇", "小王庄镇", "茶淀街道", "大港油田", "南港工业区", "杨家泊镇", "天津开发区", "于家堡"],
    "120117": ["宁河区", "宁河县", "芦台镇", "潘庄镇", "七里海镇", "造甲城镇", "东棘坨镇", "宁河经济开发区"],
    "120118": ["静海区", "静海县", "大邱庄", "唐官屯镇", "陈官屯", "子牙镇", "子牙循环经济产业区", "团泊", "王口镇", "独流镇", "台头镇", "蔡公庄镇"],
    "120119": ["蓟州区", "蓟县", "邦均镇", "渔阳镇", "马伸桥镇", "下营镇", "盘山脚下", "别山镇", "上仓镇"],
}

SITE = ["{p}有个地条钢窝点", "厂在{p}", "位于{p}的一家钢厂用中频炉炼钢", "举报{p}非法生产螺纹钢", "{p}的轧钢厂晚上偷偷开工",
        "地址：{p}某村村东", "{p}那边新建了一个铸造厂，用废钢炼钢坯", "在{p}，有人私设工频炉"]
HOME = ["我住在{p}", "我家在{p}", "本人家住{p}", "我是{p}人"]

def line(exp, district="-", location="-", text="-", coords="-"):
    return "\t".join([exp, district, location, text, coords])

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = ["# expected\tdistrict\tlocation\ttext\tcoords"]
    codes = sorted(PLACES)
    for code in codes:
        names = PLACES[code][:]
        R.shuffle(names)
        # location field alone
        for n in names[:3]:
            out.append(line(code, location=n))
        # tip text, site phrasing
        for n in names[3:6]:
            out.append(line(code, text=R.choice(SITE).format(p=n) + "。"))
        # two districts: home vs site
        other = R.choice([c for c in codes if c != code])
        h = R.choice(PLACES[other])
        s = R.choice(PLACES[code])
        out.append(line(code, text=R.choice(HOME).format(p=h) + "，" + R.choice(SITE).format(p=s) + "。"))
        out.append(line(code, text=R.choice(SITE).format(p=s) + "，" + R.choice(HOME).format(p=h) + "，离得不远。"))
    with open(os.path.join(here, "hand.tsv"), encoding="utf-8") as f:
        for l in f:
            l = l.rstrip("\n")
            if l and not l.startswith("#"):
                out.append(l)
    print("\n".join(out))

if __name__ == "__main__":
    main()
