/* The subcommands of the aimeter executable, as data.
 *
 * X(name, function, one-line summary). main.c builds the dispatch table and
 * `aimeter --help` from this list. Each command lives in src/cli/cmd_<name>.c,
 * parses its own flags (every one has --help), and returns the process exit
 * status: 0 success, 1 failure, 2 usage error, 3 blocked by the budget. */
#ifndef AIMETER_CLI_COMMANDS_H
#define AIMETER_CLI_COMMANDS_H

#define AM_COMMANDS(X)                                                          \
	X(dashboard, cmd_dashboard, "open the live console (the default)")        \
	X(ask,       cmd_ask,       "send one prompt and print the answer")       \
	X(batch,     cmd_batch,     "run a JSONL file of prompts through the queue") \
	X(report,    cmd_report,    "spend per model per day from the ledger")    \
	X(record,    cmd_record,    "append one usage event by hand")             \
	X(pricing,   cmd_pricing,   "list or import the price table")             \
	X(config,    cmd_config,    "print the effective configuration")          \
	X(proxy,     cmd_proxy,     "serve a local endpoint other apps call through") \
	X(sim,       cmd_sim,       "run the Anthropic-compatible simulator")

#define AM_DECLARE_COMMAND(name, fn, summary) int fn(int argc, char **argv);
AM_COMMANDS(AM_DECLARE_COMMAND)
#undef AM_DECLARE_COMMAND

#endif
