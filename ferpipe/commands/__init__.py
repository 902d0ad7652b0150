"""The commands users run beside the DVC pipeline (`python -m ferpipe COMMAND`, ferpipe/__main__.py), one
module each: its arguments parsed and checked, then one call into the part of the method that does the work."""


def help_description(doc: str) -> str:
    """A command's --help description: the first paragraph of its module's docstring on one line, without a
    leading "`python -m ferpipe ...`: " (argparse prints the usage itself)."""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    return paragraph.split("`: ", 1)[1] if paragraph.startswith("`") and "`: " in paragraph else paragraph
