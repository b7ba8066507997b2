/* worker_jobs: a job in memory, from the inbox or the database to its end
 * (worker_int.h), and today's per-model table. */
#include "worker_int.h"

/* Length of a model id without its "-YYYYMMDD" snapshot suffix. */
static size_t model_base_len(const char *m)
{
	size_t n = strlen(m);
	if (n > 9 && m[n - 9] == '-' && strspn(m + n - 8, "0123456789") == 8)
		return n - 9;
	return n;
}

model_total *wk_model_slot(am_worker *w, const char *model)
{
	/* A dated id and its alias are one model for today's table (the API
	 * answers with the dated id; older ledger rows may hold the alias). */
	size_t base = model_base_len(model);
	for (int i = 0; i < w->nmodels; i++)
		if (model_base_len(w->models[i].m.model) == base &&
		    !strncmp(w->models[i].m.model, model, base))
			return &w->models[i];
	if (w->nmodels == MAX_MODELS)
		return &w->models[MAX_MODELS - 1]; /* the last row absorbs the rest */
	model_total *m = &w->models[w->nmodels++];
	memset(m, 0, sizeof *m);
	snprintf(m->m.model, sizeof m->m.model, "%s", model);
	m->m.price_known = true;
	return m;
}

void wk_free_held(wjob *j)
{
	if (j->held) {
		free(j->held->text);
		free(j->held);
		j->held = NULL;
	}
}

void wk_all_add(am_worker *w, wjob *j)
{
	j->all_prev = NULL;
	j->all_next = w->all;
	if (w->all)
		w->all->all_prev = j;
	w->all = j;
}

void wk_free_job(am_worker *w, wjob *j)
{
	wk_fresh_forget(w, j);
	if (j->all_prev)
		j->all_prev->all_next = j->all_next;
	else
		w->all = j->all_next;
	if (j->all_next)
		j->all_next->all_prev = j->all_prev;
	wk_free_held(j);
	json_decref(j->body);
	free(j->model_req);
	free(j->tag);
	free(j->wire);
	free(j);
	atomic_fetch_sub(&w->unfinished, 1);
}

jlist *wk_list_of(am_worker *w, wjob *j)
{
	switch (j->st) {
	case W_PENDING: return &w->pending;
	case W_RETRY: return &w->retry_list;
	case W_BLOCKED: return &w->blocked;
	case W_LIMIT: return &w->limit;
	case W_FLIGHT: return &w->flight;
	case W_UNRECORDED: return &w->unrecorded;
	default: return NULL;
	}
}
