"""The commands users run beside the DVC pipeline (`python -m ferpipe COMMAND`, ferpipe/__main__.py), one
module each: its arguments parsed and checked, then one call into the part of the method that does the work."""
