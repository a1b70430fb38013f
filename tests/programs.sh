# programs.sh - sourced by the suites that go through all six programs (tests/cli's
# conventions.sh, manpages.sh and install.sh): their names, where the build (or the
# tree, for the script) has each, and its manual page. Needs $B (the build) and $root.
programs=(imgtool sizecheck vmctl qemu-boot vmd sandbox-helper)
declare -A path=([imgtool]=$B/imgtool [sizecheck]=$B/sizecheck [vmctl]=$B/vmctl
                 [qemu-boot]=$root/host/qemu-boot [vmd]=$B/guest/vmd
                 [sandbox-helper]=$B/sandbox-helper)
declare -A page=([imgtool]=imgtool/imgtool.1 [sizecheck]=sizecheck/sizecheck.1
                 [vmctl]=host/vmctl/vmctl.1 [qemu-boot]=host/qemu-boot.1
                 [vmd]=guest/vmd/vmd.8 [sandbox-helper]=sandbox/sandbox-helper.8)
