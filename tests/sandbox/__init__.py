"""Tests of the Callbell sandbox server, over real HTTP."""
