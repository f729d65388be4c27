from changetrail_api.cli import main

main()
