/* dims: see dims.h. */
#include "dims.h"

#include <string.h>

static const am_dim_info rows[AM_DIM_N] = {
#define ROW(id, key, label, unit, what) [AM_DIM_##id] = { #key, label, unit, what },
	AM_DIMS(ROW)
#undef ROW
};

const am_dim_info *am_dim_info_of(am_dim d)
{
	return &rows[d];
}

int am_dim_by_key(const char *key)
{
	for (int d = 0; d < AM_DIM_N; d++)
		if (!strcmp(rows[d].key, key))
			return d;
	return -1;
}
