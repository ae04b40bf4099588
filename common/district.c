#include "compat.h"
#include "district.h"

static const struct district districts[] = {
	{ "120101", "和平区", "和平" },   { "120102", "河东区", "河东" },
	{ "120103", "河西区", "河西" },   { "120104", "南开区", "南开" },
	{ "120105", "河北区", "河北" },   { "120106", "红桥区", "红桥" },
	{ "120110", "东丽区", "东丽" },   { "120111", "西青区", "西青" },
	{ "120112", "津南区", "津南" },   { "120113", "北辰区", "北辰" },
	{ "120114", "武清区", "武清" },   { "120115", "宝坻区", "宝坻" },
	{ "120116", "滨海新区", "滨海" }, { "120117", "宁河区", "宁河" },
	{ "120118", "静海区", "静海" },   { "120119", "蓟州区", "蓟州" },
	{ "120000", "天津市（市级分拣）", "市级" },
};

const struct district *
district_all(size_t *n)
{
	*n = TL_ARRAY_LEN(districts);
	return districts;
}

const struct district *
district_find(const char *code)
{
	if (!code)
		return NULL;
	for (size_t i = 0; i < TL_ARRAY_LEN(districts); i++)
		if (strcmp(districts[i].code, code) == 0)
			return &districts[i];
	return NULL;
}

bool
district_valid(const char *s)
{
	return district_find(s) != NULL;
}
