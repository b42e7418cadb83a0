"""Everything that touches torch and transformers. No gradio imports here."""
