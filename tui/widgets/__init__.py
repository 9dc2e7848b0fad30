"""Panes and small reusable widgets. Widgets render what they are given; they never do I/O."""
