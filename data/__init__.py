"""The demo jurisdiction (Xi'an) shipped as package data: see README.md in this folder."""
