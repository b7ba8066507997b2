/* Placeholder until the 'dashboard' command lands. */
#include <stdio.h>

#include "commands.h"

int cmd_dashboard(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "aimeter: 'dashboard' is not available in this build yet\n");
	return 1;
}
