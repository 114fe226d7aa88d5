from rosetta.cli import main

raise SystemExit(main())
