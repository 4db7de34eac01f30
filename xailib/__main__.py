from xailib.cli import main

raise SystemExit(main())
