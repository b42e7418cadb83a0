"""The page chrome every tab shares: input row, layout and modes, strings, theme,
share URL, lesson mode and export."""
