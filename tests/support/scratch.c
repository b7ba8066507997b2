/* scratch: see scratch.h. */
#include "scratch.h"

#include <stdio.h>

#include "tmpdir.h"

int am_scratch_open(am_scratch *s, const char *tag, am_err *err)
{
	s->led = NULL;
	s->db = NULL;
	if (am_test_tmpdir(tag, s->dir, sizeof s->dir))
		return am_err_set(err, "cannot make a scratch directory for %s", tag);
	snprintf(s->path, sizeof s->path, "%s/aimeter.db", s->dir);
	if (am_ledger_open(&s->led, s->path, NULL, err))
		return -1;
	s->db = am_ledger_db(s->led);
	return 0;
}

void am_scratch_close(am_scratch *s)
{
	am_ledger_close(s->led);
	s->led = NULL;
	s->db = NULL;
	am_test_rmtree(s->dir);
}
