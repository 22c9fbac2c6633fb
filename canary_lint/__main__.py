from canary_lint.entry import main

main()
