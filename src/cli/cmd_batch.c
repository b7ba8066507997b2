/* Placeholder until the 'batch' command lands. */
#include <stdio.h>

#include "commands.h"

int cmd_batch(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "aimeter: 'batch' is not available in this build yet\n");
	return 1;
}
