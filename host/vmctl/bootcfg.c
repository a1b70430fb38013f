/* bootcfg.c - see bootcfg.h. */
#include "bootcfg.h"

#include <string.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* A whole word of the flags line: "flags\t\t: fpu vme ... vmx ...". */
static bool has_flag(const char *line, size_t len, const char *flag)
{
	size_t fl = strlen(flag);

	for (size_t i = 0; i + fl <= len; i++)
		if (!memcmp(line + i, flag, fl) && (i == 0 || is_space(line[i - 1])) &&
		    (i + fl == len || is_space(line[i + fl])))
			return true;
	return false;
}

bool bootcfg_kvm_usable(const char *cpuinfo, bool dev_kvm_rw)
{
	if (!dev_kvm_rw || !cpuinfo)
		return false;
	for (const char *p = cpuinfo; *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (!strncmp(p, "flags", 5) && (has_flag(p, len, "vmx") || has_flag(p, len, "svm")))
			return true;
		p += len;
		if (*p)
			p++;
	}
	return false;
}

int bootcfg_cmdline(const char *text, bool kvm, char *out, size_t size, struct msg *m)
{
	size_t n = 0;
	bool comment = false, line_start = true;

	for (const char *p = text; *p;) {
		const char *w;
		size_t len;

		if (*p == '\n') {
			line_start = true;
			comment = false;
			p++;
			continue;
		}
		if (is_space(*p)) {
			p++;
			continue;
		}
		if (line_start && *p == '#')
			comment = true;
		line_start = false;
		for (w = p; *p && !is_space(*p); p++)
			;
		len = (size_t)(p - w);
		if (comment || (kvm && len == 15 && !memcmp(w, "mitigations=off", 15)))
			continue;
		if (n + (n > 0) + len + 1 > size)
			return fail(m, "the guest's kernel command line is longer than %zu bytes.",
				    size - 1);
		if (n > 0)
			out[n++] = ' ';
		memcpy(out + n, w, len);
		n += len;
	}
	out[n] = '\0';
	if (n == 0)
		return fail(m, "the guest's kernel command line file has no words in it.");
	return 0;
}
