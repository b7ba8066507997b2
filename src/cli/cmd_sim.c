/* Placeholder until the 'sim' command lands. */
#include <stdio.h>

#include "commands.h"

int cmd_sim(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "aimeter: 'sim' is not available in this build yet\n");
	return 1;
}
