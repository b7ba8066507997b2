/* tagload: a tag budget from the config and the ledger, see tagload.h. */
#include "tagload.h"

int am_tagload_limits(am_tagbudget *tb, const am_config_tag_budget *tags, int ntags, am_err *err)
{
	for (int i = 0; i < ntags; i++)
		if (am_tagbudget_set_limit(tb, tags[i].tag, tags[i].daily_pusd, err))
			return -1;
	return 0;
}

int am_tagload_today(am_tagbudget *tb, am_ledger *l, const char *day, am_err *err)
{
	am_ledger_summary s;
	int rc = am_ledger_report_tags(l, day, day, false, &s, err);
	for (size_t i = 0; !rc && i < s.nrows; i++)
		if (!s.rows[i].untagged)
			rc = am_tagbudget_add_spent(tb, day, day, s.rows[i].model, s.rows[i].cost_pusd,
			                            err);
	am_ledger_summary_free(&s);
	return rc ? -1 : 0;
}
