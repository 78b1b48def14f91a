"""korefw's Pulumi program; see korefw/program.py. Run with `pulumi up` or `korefw plan`."""

from korefw.program import main

main()
