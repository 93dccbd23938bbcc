"""`nurture dashboard`: the marketer's console in the browser, served from this machine."""

from __future__ import annotations

import os
import webbrowser

import click

from chalicelib.cli.common import or_fail

__all__ = ["COMMANDS"]


@click.command("dashboard")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default="a free port",
    help="Port on 127.0.0.1 to serve on.",
)
@click.option("--no-open", is_flag=True, help="Print the address instead of opening a browser.")
def dashboard_command(port: int, no_open: bool) -> None:
    """Serve the console on 127.0.0.1 and open it in the browser.

    It talks to the marketer API at NURTURE_API_URL with your credentials: the local stack's
    API key (after `. .local/env`), or in AWS your own AWS credentials signing each request
    (AWS_PROFILE, SSO, ...). Only this machine can reach it, and only through the address it
    prints, which signs your browser in. Stop it with Ctrl-C.
    """
    from chalicelib.console.api import from_environment
    from chalicelib.console.pages import Pages
    from chalicelib.console.server import Console

    api = or_fail(lambda: from_environment(os.environ))
    try:
        console = Console(Pages(api), port)
    except OSError as error:
        raise click.ClickException(f"--port {port}: cannot listen on 127.0.0.1 ({error})") from None
    click.echo(f"nurture console for {api.base_url}")
    click.echo(f"  {console.login_url}")
    click.echo("Stop with Ctrl-C.")
    if not no_open:
        webbrowser.open(console.login_url)
    try:
        console.serve()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        console.httpd.server_close()


COMMANDS = (dashboard_command,)
