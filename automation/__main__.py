from automation.cli.main import main

raise SystemExit(main())
