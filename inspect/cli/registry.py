from typer import Typer


def register(app: Typer) -> None:
    pass
