-- tactful for Neovim, when installed as a package (`:h packages`): the `:Tactful…` commands and
-- the attach autocommands. Nothing starts until `require("tactful").setup()` or
-- `vim.lsp.enable("tactful")` (Neovim 0.11+) in your config.
if vim.g.loaded_tactful then
  return
end
vim.g.loaded_tactful = true

require("tactful").prepare()
