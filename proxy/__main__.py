from proxy.cli import run

run()
