from canary_lint.cli import main

main()
