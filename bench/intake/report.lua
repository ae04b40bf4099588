-- bench/intake/report.lua - wrk script: POST /api/v1/reports with varied,
-- realistic Chinese bodies (district names old and new, towns, phone
-- numbers and names to redact, optional contact block), so that redaction,
-- routing and sealing do real work on every request.
local places = {
  {"静海区", "大邱庄镇"}, {"滨海新区", "塘沽"}, {"滨海新区", "大港"}, {"滨海新区", "汉沽"},
  {"北辰区", "双口镇"}, {"西青区", "张家窝镇"}, {"津南区", "八里台镇"}, {"东丽区", "军粮城"},
  {"武清区", "杨村"}, {"宝坻区", "大口屯镇"}, {"宁河区", "芦台"}, {"蓟州区", "邦均镇"},
  {"红桥区", "西于庄"}, {"河北区", "王串场"}, {"南开区", "长虹"}, {"河西区", "梅江"},
}
local facts = {
  "有一家没有手续的小钢厂，用中频炉把废钢熔化后直接浇铸成钢坯，冒黑烟，夜里十点以后开工。",
  "厂区大门常关，院里堆着大量废钢和钢坯，经常有大货车半夜拉货出去，怀疑是地条钢。",
  "村里一个废弃仓库被人租下来改成了炼钢作坊，用电量特别大，附近居民反映噪音和粉尘严重。",
  "这家企业表面上做铸件，实际用工频炉生产建筑用钢，产品没有质量证明，销往周边工地。",
  "去年被查处过一次，今年换了个名字又开起来了，设备就藏在后院的彩钢房里。",
}
local names = {"王建国", "李红梅", "张伟", "刘洋", "陈静", "赵强"}
local cats = {"地条钢", "中频炉", "违法生产", "环境污染"}

local counter = 0
local function phone()
  return string.format("1%d%09d", math.random(30, 89), math.random(0, 999999999))
end

local function body()
  local p = places[math.random(#places)]
  local parts = {}
  for i = 1, math.random(2, 4) do parts[#parts + 1] = facts[math.random(#facts)] end
  local text = string.format("%s%s附近，%s 我是附近的村民%s，电话%s，可以联系我。",
    p[1], p[2], table.concat(parts), names[math.random(#names)], phone())
  local contact = ""
  if math.random() < 0.5 then
    contact = string.format(',"contact":{"name":"%s","phone":"%s"}', names[math.random(#names)], phone())
  end
  local district = ""
  if math.random() < 0.2 then district = ',"district":"120116"' end
  return string.format('{"text":"%s","location":"%s%s","category":"%s"%s%s}',
    text, p[1], p[2], cats[math.random(#cats)], district, contact)
end

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
end

function request()
  return wrk.format("POST", "/api/v1/reports",
    {["Content-Type"] = "application/json; charset=utf-8"}, body())
end

function done(summary, latency, requests)
  local non201 = summary.errors.status
  io.write(string.format(
    "wrk requests=%d seconds=%.3f rate=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f errors_status=%d errors_socket=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    non201, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
