/* limiter_estimate: input tokens for a request body before the server
 * counts them: a high quantile of recent tokens-per-byte ratios per model,
 * plus a margin. */
#include "limiter_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct est *est_find(am_rl *rl, const char *model, bool create)
{
	for (int i = 0; i < rl->nest; i++)
		if (!strcmp(rl->est[i].model, model))
			return &rl->est[i];
	if (!create || strlen(model) >= sizeof rl->est[0].model)
		return NULL;
	struct est *e;
	if (rl->nest < AM_RL_MAX_MODELS) {
		e = &rl->est[rl->nest++];
	} else { /* forget the least recently used */
		e = &rl->est[0];
		for (int i = 1; i < rl->nest; i++)
			if (rl->est[i].used < e->used)
				e = &rl->est[i];
	}
	memset(e, 0, sizeof *e);
	snprintf(e->model, sizeof e->model, "%s", model);
	return e;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Tokens per byte (ppm) to charge: the 90th percentile of the last samples
 * plus the margin; before enough samples, never below the default. */
static int64_t est_ratio(const am_rl *rl, const struct est *e)
{
	if (!e || !e->n)
		return rl->est_default;
	uint32_t v[EST_RING];
	memcpy(v, e->ratio, sizeof v);
	qsort(v, (size_t)e->n, sizeof v[0], cmp_u32);
	int k = (e->n * 9 + 9) / 10 - 1;
	int64_t q = v[k];
	if (e->n < rl->est_min)
		return max64(rl->est_default, v[e->n - 1]);
	return q + (q * rl->est_margin + PPM - 1) / PPM;
}

int64_t am_rl_input_ratio_max(const am_rl *rl)
{
	int64_t r = rl->est_default;
	for (int i = 0; i < rl->nest; i++)
		r = max64(r, est_ratio(rl, &rl->est[i]));
	return r;
}

int64_t am_rl_estimate_input(am_rl *rl, const char *model, int64_t bytes)
{
	if (bytes <= 0)
		return 1;
	struct est *e = est_find(rl, model ? model : "", false);
	if (e)
		e->used = ++rl->est_tick;
	int64_t ratio = est_ratio(rl, e);
	i128 tok = ((i128)bytes * ratio + PPM - 1) / PPM;
	return tok < 1 ? 1 : clamp64(tok > COST_MAX ? COST_MAX : tok);
}

void am_rl_learn_input(am_rl *rl, const char *model, int64_t bytes, int64_t tokens)
{
	if (bytes <= 0 || tokens <= 0)
		return;
	i128 r = ((i128)tokens * PPM + bytes - 1) / bytes;
	uint32_t ratio = r > 100 * PPM ? 100 * PPM : (uint32_t)r;
	struct est *e = est_find(rl, model ? model : "", true);
	if (e) {
		e->ratio[e->pos] = ratio;
		e->pos = (e->pos + 1) % EST_RING;
		if (e->n < EST_RING)
			e->n++;
		e->used = ++rl->est_tick;
	}
}
