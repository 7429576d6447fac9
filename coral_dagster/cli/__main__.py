from coral_dagster.cli import main

main()
