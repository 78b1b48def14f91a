"""korefw's Pulumi program; see korefw/runtime/program.py. Run with `pulumi up` or `korefw plan`."""

from korefw.runtime.program import main

main()
