from changetrail.cli import main

main()
