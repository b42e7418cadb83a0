"""One module per panel: pure render functions plus a small build(). No torch here."""
