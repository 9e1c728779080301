/* args.c -- vmctl's command lines: options anywhere, positional arguments
 * (negative numbers included, so that "-1" is refused as a value, not as
 * an unknown option), and the parsers that name the bad argument.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "size.h"
#include "vmctl.h"

const struct option common_only[] = { COMMON_OPTS };

/* The options every command takes; the rest go to the command. */
static int common_opt(const struct cmd *cmd, int ch, const char *optarg)
{
	long v;

	switch (ch) {
	case OPT_JSON:
		arg_json = true;
		return 0;
	case OPT_SOCKET:
		arg_socket = optarg;
		return 0;
	case OPT_TIMEOUT:
		if (arg_long(cmd, "timeout", optarg, 0, INT32_MAX, &v))
			exit(VMCTL_EXIT_USAGE);
		arg_timeout_ms = (int)v;
		return 0;
	case 'h':
	case OPT_HUMAN:
		arg_human = true;
		return 0;
	}
	return -1;
}

static bool looks_negative(const char *s)
{
	return s[0] == '-' && ((s[1] >= '0' && s[1] <= '9') || s[1] == '.');
}

static void usage_cmd(const struct cmd *cmd)
{
	printf("Usage: vmctl [OPTIONS] %s %s\n  %s\n", cmd->name, cmd->args, cmd->help);
	if (cmd->details)
		printf("%s", cmd->details);
	printf("Options of every command: --json, -h/--human, --socket PATH, --timeout MS\n");
}

int positional(const struct cmd *cmd, int argc, char **argv, const struct option *opts,
	       opt_fn *fn, void *ctx, char **pos, int min, int max)
{
	bool only_args = false;
	int n = 0;

	opterr = 0;
	for (;;) {
		int ch, li = -1;
		char name[64];

		if (optind >= argc)
			break;
		if (only_args || looks_negative(argv[optind])) {
			if (n == max)
				exit(usage_err(cmd, "unexpected argument '%s' (try 'vmctl %s --help')",
					       argv[optind], cmd->name));
			pos[n++] = argv[optind++];
			continue;
		}
		ch = getopt_long(argc, argv, "+:hi:o:", opts, &li);
		if (ch == -1) {
			if (optind > 0 && optind <= argc && strcmp(argv[optind - 1], "--") == 0)
				only_args = true;
			else if (optind < argc) {
				if (n == max)
					exit(usage_err(cmd, "unexpected argument '%s' (try 'vmctl %s "
						       "--help')", argv[optind], cmd->name));
				pos[n++] = argv[optind++];
			}
			continue;
		}
		if (ch == OPT_HELP) {
			usage_cmd(cmd);
			exit(VMCTL_EXIT_OK);
		}
		if (ch == ':')
			exit(usage_err(cmd, "option '%s' needs a value", argv[optind - 1]));
		if (ch == '?')
			exit(usage_err(cmd, "unknown option '%s' (try 'vmctl %s --help')",
				       argv[optind - 1], cmd->name));
		if (common_opt(cmd, ch, optarg) == 0)
			continue;
		{
			int r = fn ? fn(cmd, ch, optarg, ctx) : -1;

			if (li >= 0)
				snprintf(name, sizeof(name), "--%s", opts[li].name);
			else
				snprintf(name, sizeof(name), "-%c", ch);
			if (r < 0)
				exit(usage_err(cmd, "option '%s' does not apply to %s (try 'vmctl %s "
					       "--help')", name, cmd->name, cmd->name));
			if (r)
				exit(r);
		}
	}
	if (n < min)
		exit(usage_err(cmd, "missing argument: vmctl %s %s", cmd->name, cmd->args));
	return n;
}

int arg_u64(const struct cmd *cmd, const char *what, const char *s, uint64_t *ret)
{
	unsigned long long v;
	const char *p = s;
	char *end;
	int base = 10;

	if (!s || !*s)
		return usage_err(cmd, "invalid %s '': empty", what);
	if (*s == '-')
		return usage_err(cmd, "invalid %s '%s': must not be negative", what, s);
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (!((*p >= '0' && *p <= '9') || (base == 16 && *p && strchr("abcdefABCDEF", *p))))
		return usage_err(cmd, "invalid %s '%s': not a number (0x hex or decimal)", what, s);
	errno = 0;
	v = strtoull(p, &end, base);
	if (*end)
		return usage_err(cmd, "invalid %s '%s': not a number (0x hex or decimal)", what, s);
	if (errno == ERANGE)
		return usage_err(cmd, "invalid %s '%s': larger than 64 bits", what, s);
	*ret = v;
	return 0;
}

int arg_size(const struct cmd *cmd, const char *what, const char *s, uint64_t *ret)
{
	int r = cv_parse_size(s, ret);

	if (r == 0)
		return 0;
	if (s && *s == '-')
		return usage_err(cmd, "invalid %s '%s': must not be negative", what, s);
	if (r == -ERANGE)
		return usage_err(cmd, "invalid %s '%s': larger than 64 bits of bytes", what, s);
	return usage_err(cmd, "invalid %s '%s': not a size (bytes, or with a K, M, G or T "
			 "suffix: 4096, 64K, 1.5M)", what, s ? s : "");
}

int arg_long(const struct cmd *cmd, const char *what, const char *s, long min, long max,
	     long *ret)
{
	char *end;
	long v;

	if (!s || !*s)
		return usage_err(cmd, "invalid %s '': empty", what);
	errno = 0;
	v = strtol(s, &end, 0);
	if (*end || end == s)
		return usage_err(cmd, "invalid %s '%s': not a number", what, s);
	if (errno == ERANGE || v < min || v > max)
		return usage_err(cmd, "invalid %s '%s': not in %ld..%ld", what, s, min, max);
	*ret = v;
	return 0;
}

int arg_seconds(const struct cmd *cmd, const char *what, const char *s, unsigned *ret_ms)
{
	char *end;
	double v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return usage_err(cmd, "invalid %s '%s': not a number of seconds", what, s ? s : "");
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno)
		return usage_err(cmd, "invalid %s '%s': not a number of seconds", what, s);
	if (!(v >= 0.001 && v <= 86400.0))
		return usage_err(cmd, "invalid %s '%s': between 0.001 and 86400 seconds", what, s);
	*ret_ms = (unsigned)(v * 1000.0 + 0.5);
	return 0;
}
