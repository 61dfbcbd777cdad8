from cnibench.cli import main

raise SystemExit(main())
