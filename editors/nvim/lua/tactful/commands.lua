--- The `:Tactful…` user commands. Each calls the function of the same purpose in `tactful`
--- (so a command and a Lua call do the same thing) and says what happened when that is not
--- visible otherwise. Creating them again replaces them.

local M = {}

local function tactful()
  return require("tactful")
end

local function say(message)
  vim.notify("tactful: " .. message, vim.log.levels.INFO)
end

local function inline_state(on)
  say(on and "inline completions on" or "inline completions off")
end

M.commands = {
  TactfulEnable = {
    function()
      tactful().enable()
      inline_state(true)
    end,
    { desc = "tactful: turn inline completions on" },
  },
  TactfulDisable = {
    function()
      tactful().disable()
      inline_state(false)
    end,
    { desc = "tactful: turn inline completions off" },
  },
  TactfulToggle = {
    function()
      inline_state(tactful().toggle())
    end,
    { desc = "tactful: turn inline completions off or on" },
  },
  TactfulTrigger = {
    function()
      tactful().trigger()
    end,
    { desc = "tactful: ask for an inline completion at the cursor now" },
  },
  TactfulNextEdit = {
    function()
      tactful().request_next_edits()
    end,
    { desc = "tactful: ask for the next edits at the cursor now" },
  },
  TactfulRestart = {
    function()
      tactful().restart()
    end,
    { desc = "tactful: restart the server" },
  },
  TactfulLog = {
    function()
      tactful().log()
    end,
    { desc = "tactful: open the server's log file" },
  },
  TactfulReview = {
    function()
      tactful().review()
    end,
    { desc = "tactful: review the changed lines now and list the comments" },
  },
  TactfulStats = {
    function()
      tactful().stats()
    end,
    { desc = "tactful: acceptance statistics" },
  },
  TactfulTrust = {
    function(opts)
      tactful().trust(opts.args, false)
    end,
    { nargs = "?", complete = "dir", desc = "tactful: trust this workspace to run its tests" },
  },
  TactfulUntrust = {
    function(opts)
      tactful().trust(opts.args, true)
    end,
    { nargs = "?", complete = "dir", desc = "tactful: stop trusting this workspace" },
  },
}

function M.create()
  for name, command in pairs(M.commands) do
    vim.api.nvim_create_user_command(name, command[1], command[2])
  end
end

return M
