from expctl.cli import main

main()
