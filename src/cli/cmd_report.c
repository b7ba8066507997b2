/* Placeholder until the 'report' command lands. */
#include <stdio.h>

#include "commands.h"

int cmd_report(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "aimeter: 'report' is not available in this build yet\n");
	return 1;
}
