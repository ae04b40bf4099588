/*
 * bench_redact.c - throughput of redaction and routing.
 *
 * Builds a ~50 MB corpus in memory from the labelled redaction corpus
 * (markup stripped, tips repeated), then times, on the same bytes and in
 * the same run: utf8_valid (the baseline), redact_text per tip, and
 * route_decide per tip.  The figures that matter are the ratios to the
 * baseline, which hold across machines better than MB/s do.
 *
 * Usage: bench_redact [CORPUS [MB]]   (defaults: the repo corpus, 50 MB)
 */
#include "compat.h"
#include "redact.h"
#include "route.h"
#include "utf8.h"

#include <time.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Strips ⟦⟧⟪⟫ and splits at "\n%%\n"; returns tips as NUL-separated text. */
static char *
load_tips(const char *path, size_t *len, size_t *ntips)
{
	FILE *f = fopen(path, "rb");
	char *raw, *out, *p;
	long n;
	size_t o = 0;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	raw = malloc((size_t)n + 1);
	out = malloc((size_t)n + 1);
	if (!raw || !out || fread(raw, 1, (size_t)n, f) != (size_t)n) {
		free(raw);
		free(out);
		fclose(f);
		return NULL;
	}
	fclose(f);
	raw[n] = '\0';
	*ntips = 0;
	p = raw;
	while (*p == '#') {
		char *nl = strchr(p, '\n');
		p = nl ? nl + 1 : p + strlen(p);
	}
	while (*p) {
		char *end = strstr(p, "\n%%\n");
		if (!end)
			break;
		for (char *q = p; q <= end; q++) {
			if (!strncmp(q, "\xe2\x9f\xa6", 3) || !strncmp(q, "\xe2\x9f\xa7", 3) ||
			    !strncmp(q, "\xe2\x9f\xaa", 3) || !strncmp(q, "\xe2\x9f\xab", 3)) {
				q += 2;
				continue;
			}
			out[o++] = *q;
		}
		out[o++] = '\0';
		(*ntips)++;
		p = end + 4;
	}
	free(raw);
	*len = o;
	return out;
}

int
main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : TL_DATADIR "/../tests/data/redact/corpus.txt";
	size_t target = (argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 50) * 1024 * 1024;
	size_t tlen, ntips, total = 0, reps = 0, ntip_all = 0, spans = 0;
	char *tips = load_tips(path, &tlen, &ntips), *big;
	size_t *offs = NULL, *lens = NULL;
	struct route_gazetteer *g = NULL;
	double t0, t_valid, t_redact, t_route, best_valid = 1e9, best_redact = 1e9, best_route = 1e9;
	unsigned routed = 0;

	if (!tips || ntips == 0) {
		fprintf(stderr, "bench_redact: cannot read corpus %s\n", path);
		return 1;
	}
	if (route_gazetteer_load(NULL, &g) != TL_OK) {
		fprintf(stderr, "bench_redact: cannot load gazetteer\n");
		return 1;
	}
	reps = target / tlen + 1;
	big = malloc(reps * tlen);
	offs = malloc(reps * ntips * sizeof(*offs));
	lens = malloc(reps * ntips * sizeof(*lens));
	if (!big || !offs || !lens)
		return 1;
	for (size_t r = 0; r < reps; r++) {
		size_t o = 0;
		memcpy(big + total, tips, tlen);
		for (size_t k = 0; k < ntips; k++) {
			size_t l = strlen(tips + o);
			offs[ntip_all] = total + o;
			lens[ntip_all++] = l;
			o += l + 1;
		}
		total += tlen;
	}
	printf("corpus: %zu tips x %zu = %zu tips, %.1f MB\n", ntips, reps, ntip_all, total / 1e6);

	/* three rounds; the best of each is the figure (least disturbed) */
	for (int round = 0; round < 3; round++) {
		size_t ok = 0;
		t0 = now();
		for (size_t i = 0; i < ntip_all; i++)
			ok += utf8_valid(big + offs[i], lens[i], NULL);
		t_valid = now() - t0;
		if (ok != ntip_all)
			return 1;

		t0 = now();
		spans = 0;
		for (size_t i = 0; i < ntip_all; i++) {
			struct redact_result r;
			if (redact_text(big + offs[i], lens[i], &r) != TL_OK)
				return 1;
			spans += r.nspans;
			redact_result_free(&r);
		}
		t_redact = now() - t0;

		t0 = now();
		routed = 0;
		for (size_t i = 0; i < ntip_all; i++) {
			struct route_input in;
			struct route_result rr;
			memset(&in, 0, sizeof(in));
			in.text = big + offs[i];
			in.text_len = lens[i];
			if (route_decide(g, &in, &rr) != TL_OK)
				return 1;
			routed += rr.rule != ROUTE_DEFAULT;
		}
		t_route = now() - t0;
		if (t_valid < best_valid)
			best_valid = t_valid;
		if (t_redact < best_redact)
			best_redact = t_redact;
		if (t_route < best_route)
			best_route = t_route;
	}
	printf("utf8_valid   %8.1f MB/s  (baseline)\n", total / 1e6 / best_valid);
	printf("redact_text  %8.1f MB/s  ratio %.1f%% of utf8_valid  (%zu spans)\n", total / 1e6 / best_redact,
	       100.0 * best_valid / best_redact, spans);
	printf("route_decide %8.1f MB/s  ratio %.1f%% of utf8_valid  (%u of %zu tips routed by place)\n",
	       total / 1e6 / best_route, 100.0 * best_valid / best_route, routed, ntip_all);
	route_gazetteer_free(g);
	free(big);
	free(offs);
	free(lens);
	free(tips);
	return 0;
}
