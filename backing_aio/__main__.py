import sys

from backing_aio.cli.main import main

sys.exit(main())
