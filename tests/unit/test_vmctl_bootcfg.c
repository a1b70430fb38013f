/* test_vmctl_bootcfg.c - the guest's kernel command line and the KVM decision. */
#include "bootcfg.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static const char cmdline_file[] =
	"# The guest kernel's command line.\n"
	"\n"
	"# COM1 is the console.\n"
	"console=ttyS0 quiet\n"
	"panic=-1\n"
	"   # an indented comment, mitigations=on inside it\n"
	"\tlapic_timer_period=4000000\n"
	"mitigations=off\n";

static void test_cmdline_joins_the_words_and_skips_comments(void **state)
{
	char out[BOOTCFG_CMDLINE_MAX];
	struct msg m = { "" };

	(void)state;
	assert_int_equal(bootcfg_cmdline(cmdline_file, false, out, sizeof out, &m), 0);
	assert_string_equal(out, "console=ttyS0 quiet panic=-1 lapic_timer_period=4000000 "
			    "mitigations=off");
}

static void test_cmdline_under_kvm_keeps_the_mitigations(void **state)
{
	char out[BOOTCFG_CMDLINE_MAX];
	struct msg m = { "" };

	(void)state;
	assert_int_equal(bootcfg_cmdline(cmdline_file, true, out, sizeof out, &m), 0);
	assert_string_equal(out, "console=ttyS0 quiet panic=-1 lapic_timer_period=4000000");
}

static void test_cmdline_drops_only_the_whole_word(void **state)
{
	char out[64];
	struct msg m = { "" };

	(void)state;
	assert_int_equal(bootcfg_cmdline("mitigations=offx xmitigations=off mitigations=off",
					 true, out, sizeof out, &m), 0);
	assert_string_equal(out, "mitigations=offx xmitigations=off");
}

static void test_cmdline_without_words_is_an_error(void **state)
{
	char out[64];
	struct msg m = { "" };

	(void)state;
	assert_int_equal(bootcfg_cmdline("# only a comment\n\n  \n", false, out, sizeof out, &m),
			 -1);
	assert_string_equal(m.text, "the guest's kernel command line file has no words in it.");
}

static void test_cmdline_longer_than_the_buffer_is_an_error(void **state)
{
	char out[16];
	struct msg m = { "" };

	(void)state;
	assert_int_equal(bootcfg_cmdline("console=ttyS0 quiet", false, out, sizeof out, &m), -1);
	assert_string_equal(m.text, "the guest's kernel command line is longer than 15 bytes.");
	assert_int_equal(bootcfg_cmdline("console=ttyS0", false, out, sizeof out, &m), 0);
	assert_string_equal(out, "console=ttyS0");
}

static const char cpuinfo_vmx[] =
	"processor\t: 0\nvendor_id\t: GenuineIntel\n"
	"flags\t\t: fpu vme de pse msr vmx sse2\n\nprocessor\t: 1\n";
static const char cpuinfo_svm[] = "flags\t\t: fpu svm\n";
static const char cpuinfo_none[] =
	"processor\t: 0\nflags\t\t: fpu vme hypervisor vmxx svm_lock\nbugs\t\t: spectre_v1\n";

static void test_kvm_needs_the_device_and_a_virtualization_flag(void **state)
{
	(void)state;
	assert_true(bootcfg_kvm_usable(cpuinfo_vmx, true));
	assert_true(bootcfg_kvm_usable(cpuinfo_svm, true));
	assert_false(bootcfg_kvm_usable(cpuinfo_vmx, false));
	assert_false(bootcfg_kvm_usable(cpuinfo_none, true));
	assert_false(bootcfg_kvm_usable("", true));
	assert_false(bootcfg_kvm_usable(NULL, true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmdline_joins_the_words_and_skips_comments),
		cmocka_unit_test(test_cmdline_under_kvm_keeps_the_mitigations),
		cmocka_unit_test(test_cmdline_drops_only_the_whole_word),
		cmocka_unit_test(test_cmdline_without_words_is_an_error),
		cmocka_unit_test(test_cmdline_longer_than_the_buffer_is_an_error),
		cmocka_unit_test(test_kvm_needs_the_device_and_a_virtualization_flag),
	};

	return cmocka_run_group_tests_name("vmctl boot configuration", tests, NULL, NULL);
}
