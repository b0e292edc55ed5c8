"""`python -m georchestra_analytics` is the same as the `georchestra-analytics` command."""

from georchestra_analytics.cli import main

main()
