/* Placeholder until the 'pricing' command lands. */
#include <stdio.h>

#include "commands.h"

int cmd_pricing(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "aimeter: 'pricing' is not available in this build yet\n");
	return 1;
}
