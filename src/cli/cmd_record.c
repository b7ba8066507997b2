/* Placeholder until the 'record' command lands. */
#include <stdio.h>

#include "commands.h"

int cmd_record(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "aimeter: 'record' is not available in this build yet\n");
	return 1;
}
