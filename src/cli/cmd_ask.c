/* Placeholder until the 'ask' command lands. */
#include <stdio.h>

#include "commands.h"

int cmd_ask(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "aimeter: 'ask' is not available in this build yet\n");
	return 1;
}
