-- Neovim 0.11+: `vim.lsp.enable("tactful")` starts tactful with this configuration. Change any
-- field with `vim.lsp.config("tactful", { ... })`, e.g. server settings:
--   vim.lsp.config("tactful", { settings = { tactful = { completion = { engine = "local" } } } })
-- The ghost text and the keys are set up on LspAttach, whatever `on_attach` you give.
require("tactful").prepare()
return require("tactful.lsp").config()
