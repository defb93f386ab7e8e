import sys

from clipwarden.cli import main

sys.exit(main())
