/* Placeholder until the 'config' command lands. */
#include <stdio.h>

#include "commands.h"

int cmd_config(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "aimeter: 'config' is not available in this build yet\n");
	return 1;
}
